-- table.concat
print(table.concat({}), table.concat({}, ","), table.concat({"a"}, ","))
print(table.concat({1, 2, 3}), table.concat({1, 2, 3}, ", "), table.concat({1.5, "x", 2}, "-"))
print(table.concat({"a", "b", "c", "d"}, "", 2, 3), table.concat({"a", "b"}, ",", 3), table.concat({"a", "b"}, ",", 2, 1))
print(pcall(table.concat, {1, {}, 3}))
print(pcall(table.concat, {1, nil, 3}, ",", 1, 3))
print(pcall(table.concat, {true}))
print(table.concat({"x", "y"}, 0), table.concat({[1] = "a", [2] = "b", [5] = "e"}, ","))
local parts = {}
for i = 1, 100 do parts[i] = i end
local s = table.concat(parts, " ")
print(#s, s:sub(1, 20), s:sub(-11))
print(table.concat({"a", "b"}, "\0"):len())
local p = setmetatable({}, {__index = function(_, i) return "i" .. i end, __len = function() return 3 end})
print(table.concat(p, ","))
print(pcall(table.concat, {}, {}))
print(table.concat({[-1] = "m", [0] = "z", "a"}, ",", -1, 1))
