-- Compiler limits: generated code near and past them.
-- a 300-term operator chain needs few registers
local terms = {}
for i = 1, 300 do terms[i] = "x" end
print(load("local x = 1 return " .. table.concat(terms, " + "))())
-- more than 255 upvalues in one function is an error, not a miscompile
local src = {"local function outer()"}
for i = 1, 130 do src[#src + 1] = "local a" .. i .. " = " .. i end
src[#src + 1] = "local function mid()"
for i = 1, 130 do src[#src + 1] = "local b" .. i .. " = " .. i end
local uses = {}
for i = 1, 130 do uses[#uses + 1] = "a" .. i; uses[#uses + 1] = "b" .. i end
src[#src + 1] = "return function() return " .. table.concat(uses, " + ") .. " end"
src[#src + 1] = "end return mid end"
local f, err = load(table.concat(src, "\n"))
print(f, err:match("too many upvalues %(limit is 255%)"))
-- 255 upvalues are fine
src = {"local function outer()"}
for i = 1, 128 do src[#src + 1] = "local a" .. i .. " = " .. i end
src[#src + 1] = "local function mid()"
for i = 1, 127 do src[#src + 1] = "local b" .. i .. " = " .. i end
uses = {}
for i = 1, 128 do uses[#uses + 1] = "a" .. i end
for i = 1, 127 do uses[#uses + 1] = "b" .. i end
src[#src + 1] = "return function() return " .. table.concat(uses, " + ") .. " end"
src[#src + 1] = "end return mid() end return outer()()"
print(load(table.concat(src, "\n"))())
