-- table.move
local function show(t, n) local o = {} for i = 1, n do o[i] = tostring(t[i]) end return table.concat(o, ",") end
local a = {1, 2, 3, 4, 5}
table.move(a, 1, 3, 3)
print(show(a, 5))
a = {1, 2, 3, 4, 5}
table.move(a, 3, 5, 1)
print(show(a, 5))
local b = table.move({1, 2, 3}, 1, 3, 2, {})
print(show(b, 4))
print(table.move({}, 1, 0, 1) ~= nil)
local src = {"a", "b", "c"}
local dst = {"x", "y", "z", "w"}
print(table.move(src, 1, 3, 2, dst) == dst, show(dst, 4))
print(pcall(table.move, {}, 1, math.maxinteger, 2))
print((pcall(table.move, {1}, -1, 1, 1)))
print(pcall(table.move))
-- move honours metamethods
local log = {}
local target = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k .. ":" .. v; rawset(t, k, v) end})
table.move({10, 20}, 1, 2, 5, target)
print(table.concat(log, " "))
-- move with overlapping to the right keeps values
local c = {1, 2, 3, 4, 5, 6}
table.move(c, 1, 5, 2)
print(show(c, 6))
