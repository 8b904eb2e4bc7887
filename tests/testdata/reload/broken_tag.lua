{{- if eq . "modsyntax"}}return = 1
{{else if eq . "modthrow"}}local x = 1
error("boom in tag")
return "never"
{{end -}}
-- broken_tag.lua (a template: "modsyntax" breaks line 1, "modthrow"
-- raises on line 2): a tag module that fails to load.
