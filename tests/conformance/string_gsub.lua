-- string.gsub with string, table and function replacements
print(("hello world"):gsub("o", "0"))
print(("hello world"):gsub("o", "0", 1))
print(("hello world"):gsub("o", "0", 0))
print(("hello world"):gsub("", "-"))
print(("abc"):gsub("%w", "%0%0"))
print(("abc"):gsub("(%w)", "[%1]"))
print(("hello world"):gsub("(%w+) (%w+)", "%2 %1"))
print(("100%"):gsub("%%", "%%%%"))
print(("a.b"):gsub("%.", "%%"))
print(pcall(string.gsub, "abc", "(a)", "%2"))
print(pcall(string.gsub, "abc", "a", "%x"))
-- table replacement
local vars = {name = "Lua", version = "5.4"}
print(("$name $version $missing"):gsub("%$(%w+)", vars))
print(("a b c"):gsub("%a", {a = 1, b = false}))
print(pcall(string.gsub, "a b c", "%a", {b = true}))
print(pcall(string.gsub, "a", "a", {a = {}}))
-- function replacement
print(("1 2 3"):gsub("%d", function(d) return d * 2 end))
print(("abc"):gsub(".", function(c) if c == "b" then return nil end return c:upper() end))
print(("abc"):gsub(".", function(c) return false end))
print(("x=1 y=2"):gsub("(%w)=(%w)", function(k, v) return v .. "=" .. k end))
print(("abc"):gsub("()", function(p) return p end))
print(pcall(string.gsub, "a", "a", function() return {} end))
-- max replacements with patterns and anchors
print(("aaaa"):gsub("a", "b", 2), ("aaaa"):gsub("^a", "b"), ("abab"):gsub("b$", "c"))
print(("  x  "):gsub("^%s+", ""))
print(("one two three"):gsub("(%w+)", "<%1>", 2))
-- gsub returns count even with no replacement
print(("abc"):gsub("z", "y"))
-- replacement is not a pattern
print(("a.c"):gsub("a", "."))
print(pcall(string.gsub, "abc", "b", 1))
print(pcall(string.gsub, "abc", "b"))
print(("abc"):gsub("b", 5), ("abc"):gsub("b", 2.5))
