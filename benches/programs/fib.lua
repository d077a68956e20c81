-- Measures function-call overhead: naive doubly recursive Fibonacci.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local N = tonumber(arg and arg[1]) or 36
print(fib(N))
