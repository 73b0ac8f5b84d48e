// The projection worker's launcher and its DROP DATABASE hook, set up by
// worker_install() in the postmaster when worker_databases names databases.
#pragma once

namespace po::pg {

// Registers the launcher: a background worker connected to no database
// that starts one worker per listed database that exists.
void worker_register_launcher();

// Installs the ProcessUtility hook that stops a database's worker before
// DROP DATABASE and the ALTER DATABASE forms that need it gone.
void worker_install_database_ddl_hook();

}  // namespace po::pg
