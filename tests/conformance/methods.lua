-- method call syntax and method definitions
local Account = {balance = 0}
function Account.new(b) return setmetatable({balance = b}, {__index = Account}) end
function Account:deposit(v) self.balance = self.balance + v; return self end
function Account:get() return self.balance end
local a = Account.new(100)
a:deposit(50):deposit(25)
print(a:get(), a.get(a), Account.get(a))
-- nested tables with method definitions
local obj = {inner = {deep = {}}}
function obj.inner.deep:name() return "deep:" .. tostring(self == obj.inner.deep) end
print(obj.inner.deep:name())
-- method call on string literal and string values
local s = "hello"
print(s:upper(), ("abc"):len(), s:sub(2, 3))
-- methods with varargs
function obj:collect(...) return select("#", ...), ... end
print(obj:collect(1, nil, 3))
-- self is just a parameter
local function f(self, x) return self.k + x end
local t = {k = 5, f = f}
print(t:f(10), t.f(t, 1))
-- calling a method on something without it
print(pcall(function() local u = {} return u:nothing() end))
print(pcall(function() local n = 5 return n:foo() end))
-- call syntax sugar: f{...} and f"..."
local function count(t) return #t end
print(count{1, 2, 3}, type"x", ("%d"):format(7))
local r = {}
function r.add(x) return function(y) return x + y end end
print(r.add(1)(2))
