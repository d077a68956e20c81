-- variadic functions
local function count(...) return select("#", ...) end
print(count(), count(nil), count(nil, nil), count(1, 2, 3))
local function pass(...) return ... end
print(pass(1, 2, 3))
print((pass(1, 2, 3)))
print(pass(1, 2), pass(3, 4))
print(({pass(1, 2, 3)})[3] == 3, #{pass(1, 2, 3)}, #{pass(1, 2, 3), 10})
local function first(a, ...) return a, count(...) end
print(first(9, 8, 7))
local function tail(...) local a, b = ... return a, b end
print(tail(1), tail(1, 2, 3))
-- ... in table constructors and arguments
local function mk(...) return {...}, {n = select("#", ...), ...} end
local t1, t2 = mk("x", nil, "z")
print(t1[1], t1[2], t1[3], t2.n)
-- select with vararg
local function sel(n, ...) return select(n, ...) end
print(sel(2, "a", "b", "c"), sel(-1, "a", "b", "c"))
-- vararg in main chunk
print(select("#", ...))
-- arguments beyond the parameter list are discarded; missing are nil
local function three(a, b, c) return a, b, c end
print(three(1), three(1, 2, 3, 4))
-- large vararg lists
local big = {}
for i = 1, 200 do big[i] = i end
print(count(table.unpack(big)), select(150, table.unpack(big)) + 0)
local function sum(...)
  local s = 0
  for i = 1, select("#", ...) do s = s + (select(i, ...)) end
  return s
end
print(sum(table.unpack(big)))
-- ... is not allowed outside vararg function
print(load("function f() return ... end"))
