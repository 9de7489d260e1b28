import type { TemplateInfo } from '../../../lib/whatsapp/templates';
import type { MediaFile } from '../../../lib/whatsapp';

/** What an operation may need besides its parameters to build its message. */
export interface BuildContext {
	/** The node's version (2 has the template list and one field per template variable). */
	version: number;
	/** The business account's template as it stands now, once per template and run. */
	template(name: string, language?: string): Promise<TemplateInfo>;
	/** The file in an item's binary field, for Send Media from binary data. */
	binary(index: number, property: string): Promise<MediaFile>;
}
