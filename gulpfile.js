// Copies what tsc does not: node icons and the widget's static files.
const { src, dest, parallel } = require('gulp');

function copyIcons() {
	return src(['nodes/**/*.svg', 'nodes/**/*.node.json', 'credentials/**/*.svg'], { base: '.' }).pipe(dest('dist'));
}

function copyStatic() {
	return src(['lib/widget/assets/**/*', 'sandbox/public/**/*', 'sandbox/*.json'], { base: '.', allowEmpty: true, encoding: false }).pipe(
		dest('dist'),
	);
}

exports.build = parallel(copyIcons, copyStatic);
