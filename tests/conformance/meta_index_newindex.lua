-- __index and __newindex: tables, functions, chains, rawget/rawset
local defaults = {color = "red", size = 1}
local t = setmetatable({size = 10}, {__index = defaults})
print(t.color, t.size, t.missing)
local calls = {}
local f = setmetatable({}, {__index = function(tbl, k) calls[#calls + 1] = k; return k .. "!" end})
print(f.a, f[1], rawget(f, "a"), table.concat(calls, ","))
-- chains of __index
local A = {a = "A"}
local B = setmetatable({b = "B"}, {__index = A})
local C = setmetatable({c = "C"}, {__index = B})
print(C.a, C.b, C.c, C.d)
-- __newindex function
local log = {}
local store = {}
local proxy = setmetatable({}, {
  __index = store,
  __newindex = function(tbl, k, v) log[#log + 1] = k .. "=" .. tostring(v); rawset(store, k, v) end,
})
proxy.x = 1; proxy.y = 2; proxy.x = 3
print(proxy.x, proxy.y, rawget(proxy, "x"), table.concat(log, " "))
-- __newindex is not called for existing keys
local seen = 0
local q = setmetatable({existing = 1}, {__newindex = function(t, k, v) seen = seen + 1; rawset(t, k, v) end})
q.existing = 2; q.new = 3; q.new = 4
print(q.existing, q.new, seen)
-- __newindex table redirects assignment
local target = {}
local r = setmetatable({}, {__newindex = target})
r.z = 26
print(rawget(r, "z"), target.z)
-- read-only table
local ro = setmetatable({}, {__index = {k = 1}, __newindex = function(_, k) error("read-only: " .. k, 2) end})
print(pcall(function() ro.k = 5 end))
-- __index on strings
print(("x").len == string.len, ("abc"):upper())
-- indexing non-tables
print(pcall(function() local n = nil; return n.x end))
print(pcall(function() return (5).x end))
-- rawset/rawget bypass
local rs = setmetatable({}, {__newindex = function() error("never") end})
rawset(rs, "k", "v")
print(rs.k, rawget(rs, "k"))
-- __index loop depth
local deep = {}
for i = 1, 50 do deep = setmetatable({}, {__index = deep}) end
print(deep.anything)
