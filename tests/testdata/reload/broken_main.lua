local x = = 1
-- broken_main.lua: a syntax error on line 1, for a reload that must fail.
