-- words.lua (a template: the word): a module for word_greeter.lua.
return { word = {{printf "%q" .}} }
