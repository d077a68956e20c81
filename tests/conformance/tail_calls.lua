-- proper tail calls do not grow the stack
local function count(n, acc) if n == 0 then return acc end return count(n - 1, acc + 1) end
print(count(1000000, 0))
-- mutual tail recursion
local is_even, is_odd
function is_even(n) if n == 0 then return true end return is_odd(n - 1) end
function is_odd(n) if n == 0 then return false end return is_even(n - 1) end
print(is_even(1000001), is_odd(1000001))
-- tail call through a method and a varargs function
local obj = {n = 0}
function obj:loop(k) if k == 0 then return self.n end self.n = self.n + 1 return self:loop(k - 1) end
print(obj:loop(300000))
local function va(n, ...) if n == 0 then return select("#", ...), ... end return va(n - 1, ...) end
print(va(500000, "a", "b"))
-- tail call to a callable table
local ct = setmetatable({}, {__call = function(self, n) if n == 0 then return "done" end return self(n - 1) end})
print(ct(200000))
-- tail call returning multiple values
local function multi() return 1, 2, 3 end
local function tc() return multi() end
print(tc())
-- a return of a parenthesised call is not a tail call but still works
local function paren(n) if n == 0 then return "p" end return (paren(n - 1)) end
print(paren(1000))
