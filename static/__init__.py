"""The page's ES modules, styles and vendored libraries: package data of convscope (convscope.static)."""
