-- character classes and pattern items
local all = {}
for i = 0, 127 do all[#all + 1] = string.char(i) end
local ascii = table.concat(all)
local function class(c)
  local s = ascii:gsub("[^" .. c .. "]", "")
  local printable = s:gsub("%c", function(ch) return ("\\%d"):format(ch:byte()) end)
  return #s .. ":" .. printable
end
for _, c in ipairs({"%a", "%d", "%l", "%s", "%u", "%w", "%x", "%p", "%c", "%g"}) do
  print(c, class(c))
end
for _, c in ipairs({"%A", "%D", "%L", "%S", "%U", "%W", "%X", "%P", "%C", "%G"}) do
  print(c, #ascii:gsub("[^" .. c .. "]", ""))
end
-- sets, ranges, negation, escapes in sets
print(("hello world 123"):gsub("[aeiou]", "*"))
print(("hello world 123"):gsub("[^%a]", ""))
print(("a-b_c]d"):gsub("[%-_%]]", "."))
print(("abcxyz"):gsub("[a-cx-z]", "#"))
print(("a]b"):match("[]]"), ("a^b"):match("[%^]"), ("a^b"):match("[b^]"))
-- %b and %f
print(("f(a(b)c) g(d)"):match("%b()"), ("if [x] then [y]"):gsub("%b[]", "B"))
print(("THE (quick) fox"):find("%f[%a]%a+%f[%A]"))
print(("hello world"):gsub("%f[%w]%w+", function(w) return w:upper() end))
print(("aaa bbb"):gsub("%f[%l]", "|"))
-- anchors
print(("^caret"):match("^%^"), ("abc"):match("^b"), ("abc"):match("c$"), ("a$b"):match("%$"), ("x$"):match("$$"))
-- captures: nested, position, back references
print(("hello"):match("((h)(e))"))
print(("hello"):match("()ll()"))
print(("abba"):match("(a)(b)%2%1"), ("xyzzy"):match("(z)%1"))
print(('say "hi" and "bye"'):match('(["\'])(.-)%1'))
print(string.find("abc", "()"), string.match("", "()"))
-- quantifiers
print(("aaab"):match("a*b"), ("b"):match("a*b"), ("aaab"):match("a+"), ("b"):match("a+"))
print(("<<a>><<b>>"):match("<<(.-)>>"), ("<<a>><<b>>"):match("<<(.*)>>"), ("color colour"):gsub("colou?r", "C"))
print(("x = 10, y = 20"):gsub("(%w+) = (%w+)", "%2 = %1"))
-- special characters escaped with %
print(("1+1=2"):match("%d%+%d=%d"), ("a.b.c"):gsub("%.", "/"))
print(pcall(string.match, "x", "%b"))
print(pcall(string.match, "x", "%f"))
print(pcall(string.rep))
