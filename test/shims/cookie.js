// light-my-request (fastify.inject) requires the ESM-only cookie@2, which jest cannot load on
// Node 20. We never inject cookies; this CommonJS stand-in provides the one function it imports.
module.exports = {
  stringifySetCookie: (c) => `${c.name}=${encodeURIComponent(c.value)}`,
};
