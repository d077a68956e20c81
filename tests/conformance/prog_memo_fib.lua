-- memoized fibonacci using closures and a memo table; also integer overflow wrap
local function memoize(f)
  local cache = {}
  return function(n)
    local v = cache[n]
    if v == nil then v = f(n); cache[n] = v end
    return v
  end
end
local fib
fib = memoize(function(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end)
print(fib(10), fib(50), fib(90))
print(fib(92), fib(93))
-- float version
local ffib
ffib = memoize(function(n) if n < 2 then return n + 0.0 end return ffib(n - 1) + ffib(n - 2) end)
print(ffib(50), ffib(100), ffib(300))
-- memoize with __index metamethod
local memo = setmetatable({[0] = 0, [1] = 1}, {__index = function(t, n) local v = t[n - 1] + t[n - 2]; t[n] = v; return v end})
print(memo[80])
-- count calls to show memoisation works
local calls = 0
local slow
slow = memoize(function(n) calls = calls + 1 if n < 2 then return n end return slow(n - 1) + slow(n - 2) end)
slow(60)
print(calls)
