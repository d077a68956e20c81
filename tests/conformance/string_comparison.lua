-- string comparison is byte-wise (C locale) and length aware
print("a" < "b", "a" < "B", "B" < "a", "abc" < "abd", "abc" < "ab", "" < "a", "a" <= "a")
print("Z" < "a", "9" < "A", " " < "!", "10" < "2", "a\0b" < "a\0c", "a\0" > "a")
print("abc" == "abc", "abc" ~= "ABC", "a" .. "bc" == "abc")
print("\255" > "\127", "é" > "e")
local words = {"banana", "Apple", "cherry", "apple", "Banana", "123", ""}
table.sort(words)
print(table.concat(words, ","))
print(math.max(1, 2) == 2, pcall(math.max, "a", "b"))
print(pcall(function() return "a" < 1 end))
print(pcall(function() return {} < "a" end))
-- equality between strings and numbers is always false
print("1" == 1, 1 == "1", "1.0" == "1")
