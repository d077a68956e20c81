-- long brackets for strings and comments
local s = [[
first newline skipped
second line]]
print(s)
print([==[contains ]] and ]=] inside]==])
print(#[[]], #[[
]])
--[[ block
comment ]] print("after block comment")
--[==[ another
]] still comment
]==] print("after level-2 comment")
---[[ this is a line comment, so the next line runs
print("line comment trick")
--]]
local t = [=[
a\nb]=]
print(t, #t)
print([[\t is not an escape]])
-- line ending normalisation inside long strings
local f = load("return [[a\r\nb]]")
print(#f())
-- comment at end of file without newline
print("done") -- trailing
