-- and / or / not return values and short-circuit evaluation
print(1 and 2, nil and 2, false and 2, 1 or 2, nil or 2, false or nil, nil or false)
print(not 1, not nil, not false, not 0, not "", not not "x")
local calls = 0
local function side(v) calls = calls + 1; return v end
local _ = side(false) and side(true)
print(calls)
_ = side(true) or side(true)
print(calls)
_ = side(nil) or side(false) or side(3)
print(calls)
-- ternary idiom and its pitfall
local function tern(c, a, b) return c and a or b end
print(tern(true, "yes", "no"), tern(false, "yes", "no"), tern(true, false, "fallback"))
-- and/or with multiple returns truncate to one value
local function mr() return 1, 2 end
print(mr() and mr())
print((mr()))
print(nil or mr())
-- comparison results are booleans
print(1 < 2, type(1 == 1), (1 < 2) == true)
-- default values
local function greet(name) name = name or "world"; return "hello " .. name end
print(greet(), greet("lua"))
-- chained logic in conditions
local x = 5
if x > 0 and x < 10 or x == 100 then print("in range") end
if not (x > 10) then print("not greater") end
-- numbers and strings are truthy, including 0 and ""
local truthy = {}
for _, v in ipairs({0, "", "0", 0.0, {}, print}) do truthy[#truthy + 1] = v and "T" or "F" end
print(table.concat(truthy))
