-- Regressions found by differential fuzzing against lua5.4.
-- constructors keep nils in the array part
print(#{nil, 'end'}, #{1, nil, 3})
-- integer keys move to the array part as lua5.4's rehash does
local t = {3, 1, 2, 4, 5, 6, 7, 8}
t[1], t[2] = nil, nil
local u = table.move(t, 1, #t, 1, {})
print(#t, #u)
-- a NaN float limit runs a float loop once, skips an integer one
for i = -38.0, 0/0, 1 do print('float', i) break end
for i = -38, 0/0, 1 do print('int', i) break end
-- math.floor/ceil convert numeric strings to floats first
print(math.floor('9007199254740993'), math.ceil('9223372036854775807'))
-- names of library functions continued after a __tostring call
print(pcall(string.format, '%s %f', setmetatable({}, {__tostring = function() return 'x' end}), true))
