-- table.pack/unpack with varargs, preserving nils via n
local function wrap(...) return table.pack(...) end
local p = wrap(1, nil, 3, nil)
print(p.n, p[1], p[2], p[3], p[4])
print(table.unpack(p, 1, p.n))
local function forward(...) local packed = table.pack(...) return table.unpack(packed, 1, packed.n) end
print(select("#", forward(nil, nil, nil)), forward("a", nil, "c"))
-- building argument lists
local args = {}
for i = 1, 10 do args[#args + 1] = i * i end
print(math.max(table.unpack(args)), select("#", table.unpack(args)))
-- vararg functions that count nils
local function nils(...)
  local c = 0
  for i = 1, select("#", ...) do if select(i, ...) == nil then c = c + 1 end end
  return c
end
print(nils(nil, 1, nil, 2, nil))
-- {...} vs table.pack
local function cmp(...) local t = {...} return #t >= 0, table.pack(...).n end
print(cmp(1, 2, 3))
-- pass varargs through several levels
local function l3(...) return select("#", ...), ... end
local function l2(...) return l3(...) end
local function l1(...) return l2(...) end
print(l1(nil, false, 0))
-- unpack with explicit range into a function expecting fixed parameters
local function three(a, b, c) return (a or "-") .. (b or "-") .. (c or "-") end
print(three(table.unpack({"x", "y", "z"}, 2)), three(table.unpack({"x"}, 1, 3)))
