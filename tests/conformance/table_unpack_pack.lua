-- table.unpack and table.pack
print(table.unpack({1, 2, 3}))
print(table.unpack({1, 2, 3}, 2))
print(table.unpack({1, 2, 3}, 2, 3))
print(table.unpack({1, 2, 3}, 3, 2))
print(table.unpack({1, 2, 3}, -1, 1))
print(select("#", table.unpack({}, 1, 3)))
print(table.unpack({n = 3}, 1, 2))
local p = table.pack()
print(p.n, #p)
p = table.pack(nil, 2, nil)
print(p.n, p[1], p[2], p[3])
p = table.pack("a", "b")
print(p.n, p[1], p[2])
print(pcall(table.unpack, {}, 1, 1e8))
print(pcall(table.unpack, {}, math.mininteger, math.maxinteger))
print(pcall(table.unpack))
local big = {}
for i = 1, 5000 do big[i] = i end
print(select("#", table.unpack(big)), (select(5000, table.unpack(big))))
-- unpack respects __index
local proxy = setmetatable({}, {__index = function(_, i) return i * i end})
print(table.unpack(proxy, 1, 4))
print(unpack == nil)
