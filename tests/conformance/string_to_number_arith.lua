-- arithmetic on numeric strings
print("10" + 1, "0x10" + 0, "1e2" * 1, "3" * "4", "2" ^ "2", "9" / "3", "7" // "2", "7" % "4")
print(math.type("10" + 1), math.type("10" * 1.0), math.type("1e2" * 1), math.type("0x10" + 0))
print(" 5 " + 0, "\t6\n" - 0, "-5" + 0, "+5" + 0, ".5" + 0, "5." + 0)
print(pcall(function() return "5x" + 0 end))
print(pcall(function() return "" + 0 end))
print(pcall(function() return " " * 2 end))
print(pcall(function() return "1e" + 0 end))
print("10" + "-2", -"10", "0x7fffffffffffffff" + 0, "9223372036854775807" + 1)
print("9223372036854775808" + 0, math.type("9223372036854775808" + 0))
print(10 .. 20, ("5" + 5) .. "", "3" == 3)
print(pcall(function() return "abc" < 5 end))
-- string arithmetic uses the string metatable: changing __add changes behaviour
local smt = getmetatable("")
local old = smt.__add
smt.__add = function(a, b) return "patched" end
print("1" + 1)
smt.__add = old
print("1" + 1)
print(pcall(function() return "inf" + 0 end))
