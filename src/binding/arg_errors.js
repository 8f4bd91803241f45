// Installed over the module's exports when the addon loads (see arg_errors.rs). Node-API
// converts arguments before the core runs; its errors carry a napi status as `code`
// (`InvalidArg`, `NumberExpected`, …) or none, and name Rust types (`JsKeyParts`, `f64`).
// This gives them the contract every other error has: `code` is `E_INVALID_ARG` and the
// message names the export and what it expected, in JS terms. Errors that already carry an
// `E_…` code pass through untouched; `…Async` exports reject instead of throwing.
(function wrapArgumentErrors(exports) {
  'use strict'
  const jsType = (rust) => {
    if (/^(String|&str|str)$/.test(rust)) return 'a string'
    if (/^(f64|f32|u8|u16|u32|u64|i8|i16|i32|i64|usize|isize|Number)$/.test(rust)) return 'a number'
    if (/^bool$/.test(rust)) return 'a boolean'
    if (/^(Vec<.*>|Array)$/.test(rust)) return 'an array'
    return 'an object'
  }
  const clean = (message) => {
    let m = String(message ?? '')
    // "Failed to convert JavaScript value `Undefined` into rust type `JsKeyParts`"
    m = m.replace(/Failed to convert JavaScript value `([^`]*)` into rust type `([^`]*)`/g,
      (_, got, rust) => `expected ${jsType(rust)}, got ${got.trim().toLowerCase() || 'another type'}`)
    // "Failed to convert napi value Undefined into rust type `String`", "… napi value into
    // rust type `bool`" and similar
    m = m.replace(/(?:Failed to convert )?napi value (?:([A-Za-z]+) )?into rust type `([^`]*)`/g,
      (_, got, rust) => `expected ${jsType(rust)}${got ? `, got ${got.toLowerCase()}` : ''}`)
    // "… on KeyParts.stageNumber": the field, without the Rust struct's name
    m = m.replace(/ on (?:an object|[A-Z]\w*)\.(\w+)/g, ' for the field $1')
    m = m.replace(/Cannot convert undefined or null to object/g, 'expected an object, got undefined or null')
    m = m.replace(/Missing field `([^`]*)`/g, (_, f) => `the field ${f} is missing`)
    m = m.replace(/rust type `([^`]*)`/g, (_, rust) => jsType(rust))
    m = m.replace(/\b(Js[A-Z]\w*|f64|u32|u64|i64|i32)\b/g, (t) => jsType(t))
    return m
  }
  const fix = (name, e) => {
    if (e && typeof e.code === 'string' && e.code.startsWith('E_')) return e
    const detail = clean(e && e.message)
    const err = new TypeError(`${name}: invalid arguments: ${detail}; see index.d.ts for the expected types`)
    err.code = 'E_INVALID_ARG'
    return err
  }
  const wrap = (name, f) => {
    const isAsync = /Async$/.test(name)
    const w = function (...args) {
      try {
        return f.apply(this, args)
      } catch (e) {
        if (isAsync) return Promise.reject(fix(name, e))
        throw fix(name, e)
      }
    }
    Object.defineProperty(w, 'name', { value: f.name || name })
    Object.defineProperty(w, 'length', { value: f.length })
    return w
  }
  const wrapMembers = (owner, prefix) => {
    // Instance methods are writable: wrapped in place.
    for (const key of Object.getOwnPropertyNames(owner)) {
      if (key === 'constructor' || key === 'prototype' || key === 'length' || key === 'name') continue
      const d = Object.getOwnPropertyDescriptor(owner, key)
      if (!d || typeof d.value !== 'function' || !(d.writable || d.configurable)) continue
      Object.defineProperty(owner, key, { ...d, value: wrap(`${prefix}${key}`, d.value) })
    }
  }
  for (const name of Object.keys(exports)) {
    const v = exports[name]
    if (typeof v !== 'function') continue
    // The task types of the async exports (`task!` in mod.rs) exist only so napi can type
    // their Promises; napi registers each as an empty class, which is no API: drop it.
    if (/Task$/.test(name) && v.prototype && Object.getOwnPropertyNames(v.prototype).length === 1) {
      delete exports[name]
      continue
    }
    const isClass = v.prototype && Object.getOwnPropertyNames(v.prototype).some((k) => k !== 'constructor')
    if (isClass) {
      // napi makes static methods read-only: the export becomes a stand-in constructor that
      // shares the prototype (so `instanceof` holds for every instance) and carries wrapped
      // statics, each calling the original with the original class as `this`.
      const Native = v
      const Class = function (...args) {
        try {
          return Reflect.construct(Native, args, new.target || Class)
        } catch (e) {
          throw fix(name, e)
        }
      }
      Object.defineProperty(Class, 'name', { value: Native.name || name })
      Object.defineProperty(Class, 'prototype', { value: Native.prototype })
      Object.setPrototypeOf(Class, Native)
      for (const key of Object.getOwnPropertyNames(Native)) {
        const d = Object.getOwnPropertyDescriptor(Native, key)
        if (['length', 'name', 'prototype', 'arguments', 'caller'].includes(key)) continue
        if (!d || typeof d.value !== 'function') continue
        const f = wrap(`${name}.${key}`, d.value)
        Object.defineProperty(Class, key, { value: (...a) => f.apply(Native, a), enumerable: false })
      }
      wrapMembers(v.prototype, `${name}#`)
      exports[name] = Class
    } else {
      exports[name] = wrap(name, v)
    }
  }
})
