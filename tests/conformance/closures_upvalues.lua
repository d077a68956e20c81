-- closures share upvalues; upvalues outlive their scopes
local function counter()
  local n = 0
  return function() n = n + 1; return n end, function() return n end
end
local inc, get = counter()
inc(); inc()
print(get(), inc(), get())
local inc2 = counter()
print(inc2(), get())
-- shared upvalue between sibling closures after scope exit
local set, read
do
  local v = "start"
  set = function(x) v = x end
  read = function() return v end
end
set("changed")
print(read())
-- nested closures three levels deep
local function outer(a)
  return function(b)
    return function(c) a = a + 1; return a + b + c end
  end
end
local f = outer(1)(10)
print(f(100), f(100))
-- upvalue of a parameter
local function adder(x) return function(y) return x + y end end
local add5 = adder(5)
print(add5(1), adder(-1)(1))
-- recursive local function refers to itself as upvalue
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
print(fact(10))
local fib
fib = function(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib(15))
-- closures in a table built in a loop over upvalue that is modified later
local x = 1
local g = function() return x end
x = 2
print(g())
-- many upvalues
local u1, u2, u3, u4, u5, u6 = 1, 2, 3, 4, 5, 6
local function many() return u1 + u2 + u3 + u4 + u5 + u6 end
u6 = 60
print(many())
