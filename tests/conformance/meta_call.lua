-- __call metamethod
local callable = setmetatable({name = "obj"}, {__call = function(self, a, b) return self.name, a, b end})
print(callable(1, 2))
print(pcall(callable, "x"))
-- __call with varargs and multiple returns
local multi = setmetatable({}, {__call = function(_, ...) return select("#", ...), ... end})
print(multi(), multi(nil, nil), multi(1, 2, 3))
-- callable tables as iterators
local counter = setmetatable({n = 0}, {__call = function(self) self.n = self.n + 1; if self.n <= 3 then return self.n end end})
for i in counter do io.write(i, " ") end print()
-- nested __call (callable whose __call is a callable table)
local inner = setmetatable({}, {__call = function(_, x, y) return "inner", type(x), y end})
local outer = setmetatable({}, {__call = inner})
print(outer("arg"))
-- methods on callable
local obj = {f = callable}
print(obj.f("m"))
print(select("#", obj:f()), (obj:f()))
-- calling non-callable
print(pcall(function() local t = {} t() end))
print(pcall(function() local t = setmetatable({}, {__call = 5}) t() end))
-- table.sort insists on a real function as comparator
local cmp = setmetatable({}, {__call = function(_, a, b) return a > b end})
local arr = {3, 1, 2}
print(pcall(table.sort, arr, cmp))
table.sort(arr, function(a, b) return cmp(a, b) end)
print(table.concat(arr, ","))
-- pcall of a callable object that errors
local bad = setmetatable({}, {__call = function() error("called bad", 0) end})
print(pcall(bad))
