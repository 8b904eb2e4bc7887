-- words.lua (a template: the word): a module for greeter.lua.
return { word = {{printf "%q" .}} }
