-- length operator on sequences (only well-defined borders are checked)
print(#{}, #{1}, #{1, 2, 3}, #{nil}, #{n = 1})
local t = {}
for i = 1, 100 do t[i] = i end
print(#t)
t[101] = 1
print(#t)
t[#t] = nil
print(#t)
-- table.insert appends at the border
local u = {"a", "b"}
table.insert(u, "c")
print(#u, u[3])
-- strings
print(#"", #"hello", #"\0\0")
-- __len overrides
local p = setmetatable({}, {__len = function() return 42 end})
print(#p)
-- sequence built with holes filled later
local s = {}
s[3] = 3; s[2] = 2; s[1] = 1
print(#s)
-- removing from the end keeps a sequence
local r = {1, 2, 3, 4}
r[4] = nil; r[3] = nil
print(#r)
-- rawlen ignores __len
print(rawlen(p), rawlen({1, 2}), rawlen("abc"))
print(pcall(rawlen, 5))
print(pcall(function() return #5 end))
print(pcall(function() local x; return #x end))
