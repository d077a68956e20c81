-- Measures closure creation, upvalue access and higher-order calls.
local N = tonumber(arg and arg[1]) or 3000000
local function make_counter()
  local n = 0
  return function(k) n = n + k; return n end
end
local function compose(f, g) return function(x) return f(g(x)) end end
local function map(t, f) local r = {} for i = 1, #t do r[i] = f(t[i]) end return r end
local function fold(t, f, acc) for i = 1, #t do acc = f(acc, t[i]) end return acc end
local total = 0
for i = 1, N do
  local c = make_counter()
  c(i); c(1)
  total = total + c(0)
end
local inc = function(x) return x + 1 end
local dbl = function(x) return x * 2 end
local f = compose(inc, compose(dbl, inc))
local data = {}
for i = 1, 100 do data[i] = i end
for _ = 1, N // 100 do
  local mapped = map(data, f)
  total = total + fold(mapped, function(a, b) return a + b end, 0)
end
-- Closures capturing loop variables, called later.
local fns = {}
for i = 1, 1000 do fns[i] = function() return i * 3 end end
for _ = 1, N // 1000 do for i = 1, #fns do total = total + fns[i]() end end
print(total)
