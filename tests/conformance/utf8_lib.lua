-- utf8 library
print(utf8.char(72, 228, 8364, 128512), #utf8.char(72, 228, 8364, 128512))
print(utf8.char(), #utf8.char(0x7FFFFFFF))
print(utf8.charpattern == "[\0-\x7F\xC2-\xFD][\x80-\xBF]*")
local s = "häll€😀"
print(#s, utf8.len(s), utf8.len(s, 2), utf8.len(s, -4), utf8.len(""))
print(utf8.codepoint(s, 1), utf8.codepoint(s, 2), utf8.codepoint(s, 1, -1))
for p, c in utf8.codes(s) do io.write(p, ":", c, " ") end print()
print(utf8.offset(s, 1), utf8.offset(s, 3), utf8.offset(s, -1), utf8.offset(s, 0, 3), utf8.offset(s, 7), utf8.offset(s, 8))
-- invalid sequences
print(utf8.len("abc\xffdef"))
print(utf8.len("\xe4"))
print(utf8.len("a\x80"))
print(utf8.len("ok\u{10FFFF}\xF4\x90\x80\x80"))
print(pcall(utf8.codepoint, "\xff"))
print(pcall(function() for _, c in utf8.codes("a\xffb") do end end))
print(pcall(utf8.offset, s, 1, 3))
print(pcall(utf8.char, -1))
print(pcall(utf8.len, "abc", 5))
-- lax mode accepts surrogates and large code points
print(utf8.len("\u{D800}"), utf8.len("\u{D800}", 1, -1, true))
print(utf8.codepoint("\u{7FFFFFFF}", 1, 1, true))
print(pcall(utf8.codepoint, "\u{7FFFFFFF}"))
-- overlong encodings are invalid
print(utf8.len("\xC0\x80"), utf8.len("\xE0\x80\x80"))
-- iterate with charpattern
local chars = {}
for ch in s:gmatch(utf8.charpattern) do chars[#chars + 1] = #ch end
print(table.concat(chars, ","))
print(select("#", utf8.codepoint("abc", 4, 3)), pcall(utf8.codepoint, "abc", 4))
