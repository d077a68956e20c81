-- require with package.preload and package.loaded (no files involved)
local loads = 0
package.preload["mymod"] = function(name, extra)
  loads = loads + 1
  return {name = name, extra = extra, greet = function(w) return "hi " .. w end}
end
local m = require("mymod")
print(m.name, m.extra, m.greet("there"), loads)
local m2 = require("mymod")
print(m == m2, loads, package.loaded.mymod == m)
-- module returning nothing stores true
package.preload["nothing"] = function() end
print(require("nothing"), package.loaded.nothing)
-- package.loaded can be pre-populated
package.loaded["fake"] = "cached value"
print(require("fake"))
-- standard libraries are in package.loaded
print(package.loaded.string == string, package.loaded.math == math, package.loaded._G == _G)
-- errors for missing modules mention the module name
local ok, err = pcall(require, "definitely_not_a_module_xyz")
print(ok, err:match("^module 'definitely_not_a_module_xyz' not found:") ~= nil)
-- error inside loader propagates
package.preload["broken"] = function() error("loader failed", 0) end
print(pcall(require, "broken"))
print(type(package.path), type(package.cpath), type(package.searchers), package.config:sub(1, 1))
