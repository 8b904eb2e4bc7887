-- returns.lua (a template: a Lua value): a script that returns it, for the
-- values that are not a class.
return {{.}}
