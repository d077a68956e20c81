-- word frequency counter with sorted output
local text = [[
It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of
incredulity, it was the season of Light, it was the season of Darkness, it was
the spring of hope, it was the winter of despair.
]]
local freq, total = {}, 0
for word in text:lower():gmatch("%a+") do
  freq[word] = (freq[word] or 0) + 1
  total = total + 1
end
local words = {}
for w in pairs(freq) do words[#words + 1] = w end
table.sort(words, function(a, b)
  if freq[a] ~= freq[b] then return freq[a] > freq[b] end
  return a < b
end)
print("total", total, "distinct", #words)
for i = 1, 10 do print(string.format("%-12s %3d", words[i], freq[words[i]])) end
-- letter histogram
local letters = {}
for c in text:lower():gmatch("%a") do letters[c] = (letters[c] or 0) + 1 end
local ls = {}
for c, n in pairs(letters) do ls[#ls + 1] = c .. n end
table.sort(ls)
print(table.concat(ls, " "))
-- longest words
table.sort(words, function(a, b) if #a ~= #b then return #a > #b end return a < b end)
print(words[1], words[2], words[3])
