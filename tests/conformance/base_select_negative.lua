-- select with negative indices
print(select(-1, 1, 2, 3))
print(select(-2, 1, 2, 3))
print(select(-3, 1, 2, 3))
print(pcall(select, -4, 1, 2, 3))
print(pcall(select, 0, 1))
print(select(4, 1, 2, 3))
print(select("#", select(4, 1, 2, 3)))
print(select(-1, nil, nil))
print(select("#", select(-2, nil, nil)))
local function last(...) return (select(-1, ...)) end
print(last("a", "b", "z"))
local function lastn(n, ...) return select(-n, ...) end
print(lastn(2, 10, 20, 30, 40))
print(pcall(select, -1))
print(select(2, table.unpack({1, 2, 3, nil, 5}, 1, 5)))
