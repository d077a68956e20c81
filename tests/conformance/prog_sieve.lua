-- sieve of Eratosthenes
local function sieve(n)
  local is = {}
  for i = 2, n do is[i] = true end
  for i = 2, math.floor(math.sqrt(n)) do
    if is[i] then for j = i * i, n, i do is[j] = false end end
  end
  local primes = {}
  for i = 2, n do if is[i] then primes[#primes + 1] = i end end
  return primes
end
local p = sieve(10000)
print(#p, p[1], p[10], p[100], p[#p])
local sum = 0
for _, v in ipairs(p) do sum = sum + v end
print(sum)
local first = {}
for i = 1, 25 do first[i] = p[i] end
print(table.concat(first, " "))
-- twin primes below 1000
local twins = 0
local set = {}
for _, v in ipairs(p) do set[v] = true end
for i = 3, 997, 2 do if set[i] and set[i + 2] then twins = twins + 1 end end
print(twins)
