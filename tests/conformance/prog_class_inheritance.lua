-- a tiny class system with inheritance via __index, super calls and __tostring
local function class(parent)
  local c = {}
  c.__index = c
  if parent then setmetatable(c, {__index = parent}) end
  c.super = parent
  c.new = function(...)
    local o = setmetatable({}, c)
    if o.init then o:init(...) end
    return o
  end
  return c
end
local Animal = class()
function Animal:init(name, sound) self.name = name; self.sound = sound or "..." end
function Animal:speak() return self.name .. " says " .. self.sound end
function Animal:kind() return "animal" end
Animal.__tostring = function(a) return "Animal(" .. a.name .. ")" end
local Dog = class(Animal)
function Dog:init(name) Dog.super.init(self, name, "woof") self.tricks = {} end
function Dog:learn(t) self.tricks[#self.tricks + 1] = t; return self end
function Dog:kind() return "dog, a kind of " .. Dog.super.kind(self) end
Dog.__tostring = function(d) return "Dog(" .. d.name .. ", " .. #d.tricks .. " tricks)" end
local Puppy = class(Dog)
function Puppy:speak() return Dog.speak(self) .. " (squeaky)" end
local a = Animal.new("generic")
local d = Dog.new("rex"):learn("sit"):learn("roll")
local p = Puppy.new("bit")
print(a:speak(), d:speak(), p:speak())
print(a:kind(), "|", d:kind(), "|", p:kind())
-- metamethods are not inherited through __index: Puppy has no __tostring of its own
print(tostring(a), tostring(d), tostring(p):match("^table: ") ~= nil)
print(getmetatable(p) == Puppy, Puppy.super == Dog, rawget(Puppy, "speak") ~= nil, rawget(Puppy, "learn") == nil)
local function isinstance(o, c)
  local m = getmetatable(o)
  while m do if m == c then return true end m = m.super end
  return false
end
print(isinstance(p, Animal), isinstance(d, Puppy), isinstance(a, Dog))
-- class with operator overloading
local Vec = class()
function Vec:init(x, y) self.x, self.y = x, y end
Vec.__add = function(u, v) return Vec.new(u.x + v.x, u.y + v.y) end
Vec.__eq = function(u, v) return u.x == v.x and u.y == v.y end
Vec.__tostring = function(v) return "<" .. v.x .. "," .. v.y .. ">" end
Vec.__len = function(v) return math.sqrt(v.x ^ 2 + v.y ^ 2) end
local v = Vec.new(1, 2) + Vec.new(2, 2)
print(tostring(v), v == Vec.new(3, 4), #v)
