-- non-tail recursion of depth 150000 must work (LUAI_MAXCCALLS-style limit is 200000)
local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end
print(f(150000))
local function sum(t, i) if i > #t then return 0 end return t[i] + sum(t, i + 1) end
local t = {}
for i = 1, 100000 do t[i] = i % 7 end
print(sum(t, 1))
-- recursion through pcall and metamethods at moderate depth (these nest C calls in lua5.4)
local function g(n) if n == 0 then return "bottom" end local ok, v = pcall(g, n - 1) return v end
print(g(100))
-- recursion through metamethods
local M = {}
M.__index = function(t, k) if k <= 0 then return 0 end return t[k - 1] + 1 end
local r = setmetatable({}, M)
print(r[100])
-- recursive string building
local function build(n) if n == 0 then return "" end return build(n - 1) .. (n % 10) end
print(#build(5000), build(12))
