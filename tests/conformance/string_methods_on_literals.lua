-- method calls on string literals and expressions
print(("x"):rep(3), ("abc"):upper(), ("%d-%d"):format(1, 2))
print(("hello"):sub(2, 3), ("  pad  "):len(), ("a,b"):find(","))
print(("CamelCase"):gsub("%u", function(c) return "_" .. c:lower() end))
local s = "chain"
print(s:upper():lower():rep(2, "+"):len())
print(#("abc"):rep(5), ("x" .. "y"):upper())
print(([[long]]):upper(), ('single'):upper())
local t = {name = "tbl"}
print(t.name:upper(), ("%s!"):rep(2):format("a", "b"))
-- numbers do not have methods
print(pcall(load("return (5):rep(2)")))
print(("1"):rep(3) + 1)
-- string methods via string table
print(string.upper("direct"), ("x"):byte(), ("x").char == string.char)
