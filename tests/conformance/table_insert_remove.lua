-- table.insert and table.remove
local t = {}
table.insert(t, "a")
table.insert(t, "c")
table.insert(t, 2, "b")
table.insert(t, 1, "start")
table.insert(t, #t + 1, "end")
print(table.concat(t, ","), #t)
print(table.remove(t), table.concat(t, ","))
print(table.remove(t, 1), table.concat(t, ","))
print(table.remove(t, 2), table.concat(t, ","))
print(table.remove({}), table.remove({}, 0), table.remove({}, 1))
local u = {1, 2, 3}
print(table.remove(u, #u + 1), #u)
print(pcall(table.remove, u, 7))
print(pcall(table.insert, u, 0, "x"))
print(pcall(table.insert, u, 5, "x"))
print(pcall(table.insert, u))
print(pcall(table.insert, u, 1, 2, 3))
print(pcall(table.insert, u, "2", "x"))
print(table.concat(u, ","))
-- remove at position 0 of empty table and #t + 1
local e = {[0] = "zero"}
print(table.remove(e, 0), e[0])
-- insert/remove respect __index/__newindex (5.4 uses lua_geti/lua_seti)
local log = {}
local proxy = setmetatable({}, {
  __len = function() return 2 end,
  __index = function(_, k) return "v" .. k end,
  __newindex = function(_, k, v) log[#log + 1] = k .. "=" .. tostring(v) end,
})
table.insert(proxy, "new")
table.remove(proxy, 1)
print(table.concat(log, " "))
-- queue via insert/remove
local q = {}
for i = 1, 5 do table.insert(q, i) end
local out = {}
while #q > 0 do out[#out + 1] = table.remove(q, 1) end
print(table.concat(out, " "))
-- insert into large array
local big = {}
for i = 1, 1000 do table.insert(big, 1, i) end
print(#big, big[1], big[1000])
