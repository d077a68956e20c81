-- short string escape sequences
print("a\tb", 'single \'quoted\'', "double \"quoted\"")
print("bell\a" == "bell\7", "\b" == "\8", "\f" == "\12", "\v" == "\11", "\r" == "\13")
print("back\\slash", "nl:\nnext")
print("\65\066\0671", "\x41\x42\x43", "\x7a\x5A")
print("\u{48}\u{49}", #"\u{7FF}", #"\u{FFFF}", #"\u{10FFFF}", #"\u{7FFFFFFF}")
print(string.byte("\u{E9}", 1, -1))
print("line1\
line2")
print("skip \z
       whitespace")
print(#"\0abc", ("\0x"):byte(1, 2))
print("tab:\9:", "\z   ")
local s = "\x00\x01\x02\xff"
for i = 1, #s do io.write(s:byte(i), " ") end
print()
print('mixed "quotes" inside', "and 'these'")
print(#"", #"\n", #"\\n")
-- escapes in load'd code produce errors
print(load('return "\\q"'))
print(load('return "\\300"'))
print(load('return "\\xZZ"'))
print(load('return "\\u{110000000}"'))
