-- ballast.lua (a template: the tag): a project module holding ~1,000
-- small tables, so that a leaked version would cost a few hundred KiB and
-- show in the RSS.
local t = {tag = {{printf "%q" .}}}
for i = 1, 1000 do t[i] = {i, "item" .. i} end
return t
