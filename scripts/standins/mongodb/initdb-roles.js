// Loaded by the entrypoint before each /docker-entrypoint-initdb.d/*.js file.
// FerretDB 1.x has authentication but no authorization: its createUser accepts only
// `roles: []`. So that init scripts written for MongoDB (least-privilege users with
// readWrite on one database) still run, their roles are dropped with a warning; the
// user can then log in and do everything, which the image's note says.
const databaseProto = Object.getPrototypeOf(db);
const createUser = databaseProto.createUser;
databaseProto.createUser = function (user, ...rest) {
  if (user && Array.isArray(user.roles) && user.roles.length > 0) {
    print(`stand-in: roles of user ${user.user} ignored (FerretDB has no authorization)`);
    user = Object.assign({}, user, { roles: [] });
  }
  return createUser.call(this, user, ...rest);
};
