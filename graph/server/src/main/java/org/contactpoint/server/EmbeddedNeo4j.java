package org.contactpoint.server;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.cli.AdminTool;
import org.neo4j.cli.ExecutionContext;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.internal.kernel.api.connectioninfo.ClientConnectionInfo;
import org.neo4j.internal.kernel.api.security.AuthenticationResult;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.api.security.AuthManager;
import org.neo4j.kernel.api.security.AuthToken;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * The local development DBMS: Neo4j Community embedded, Bolt on 127.0.0.1 only, no HTTP.
 *
 * <p>Usage: {@code EmbeddedNeo4j --home DIR [--bolt-port 7687] [--pagecache 1g]
 * [--tx-log-retention "256M size"] [--no-auth]}. With auth (the default) the user and
 * password come from the environment (CP_NEO4J_USER, CP_NEO4J_PASSWORD), never from the
 * command line, so they do not show in {@code ps}. Prints {@code READY bolt://host:port}
 * once Bolt accepts connections; SIGTERM shuts the DBMS down cleanly through a hook.
 */
public final class EmbeddedNeo4j {
    private static final String HOST = "127.0.0.1";

    private EmbeddedNeo4j() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parseArgs(args);
        Path home = Path.of(require(opts, "--home")).toAbsolutePath();
        int port = Integer.parseInt(opts.getOrDefault("--bolt-port", "7687"));
        long pagecache = ByteUnit.parse(opts.getOrDefault("--pagecache", "512m"));
        String retention = opts.getOrDefault("--tx-log-retention", "256M size");
        boolean auth = !opts.containsKey("--no-auth");
        String user = System.getenv().getOrDefault("CP_NEO4J_USER", "neo4j");
        String password = System.getenv("CP_NEO4J_PASSWORD");
        if (auth && (password == null || password.length() < 8)) {
            fail("CP_NEO4J_PASSWORD must hold a password of at least 8 characters (or pass --no-auth)");
        }
        Files.createDirectories(home);

        // Seed the built-in neo4j user's password before the system database first exists, so
        // Bolt never serves the default neo4j/neo4j credentials, not even for a moment.
        boolean firstStart = !Files.exists(home.resolve("data/databases/system"));
        if (auth && firstStart) {
            ExecutionContext ctx = new ExecutionContext(home, home.resolve("conf"));
            int rc = AdminTool.execute(ctx, "dbms", "set-initial-password", password);
            if (rc != 0) {
                fail("set-initial-password failed with exit code " + rc);
            }
        }

        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
                // Every connector (and Bolt explicitly) listens on loopback only.
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(HOST))
                .setConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress(HOST))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // Bolt otherwise idles 5 s per connector on shutdown, even with no clients.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
                // Bulk loads write gigabytes of transaction log; keep only a little of it.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, retention)
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(64))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            service.shutdown();
            System.out.println("STOPPED");
            System.out.flush();
        }, "neo4j-shutdown"));

        if (auth) {
            GraphDatabaseService system = service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            if (!credentialsWork(system, user, password)) {
                syncUser(system, user, password);
                System.out.println("AUTH set the password of user '" + user + "' from CP_NEO4J_PASSWORD");
            }
        }
        System.out.println("READY bolt://" + HOST + ":" + port);
        System.out.flush();
        new CountDownLatch(1).await();
    }

    /**
     * Whether user/password already log in, asked of the auth manager directly: a cold Cypher
     * admin command costs seconds at start. Internal API, so any surprise means "sync anyway".
     */
    private static boolean credentialsWork(GraphDatabaseService system, String user, String password) {
        try {
            AuthManager authManager =
                    ((GraphDatabaseAPI) system).getDependencyResolver().resolveDependency(AuthManager.class);
            Map<String, Object> token = new HashMap<>(AuthToken.newBasicAuthToken(user, password));
            return authManager.login(token, ClientConnectionInfo.EMBEDDED_CONNECTION)
                            .subject()
                            .getAuthenticationResult()
                    == AuthenticationResult.SUCCESS;
        } catch (Exception | LinkageError e) {
            return false;
        }
    }

    /** Make the configured user exist with the configured password, so a changed setting wins. */
    private static void syncUser(GraphDatabaseService system, String user, String password) {
        Map<String, Object> params = Map.of("user", user, "password", password);
        system.executeTransactionally(
                "CREATE USER $user IF NOT EXISTS SET PASSWORD $password CHANGE NOT REQUIRED", params);
        try {
            system.executeTransactionally(
                    "ALTER USER $user SET PASSWORD $password CHANGE NOT REQUIRED", params);
        } catch (RuntimeException e) {
            // Neo4j refuses to "change" a password to the one already set: nothing to do.
            if (!String.valueOf(e.getMessage()).contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String key = args[i];
            if (key.equals("--no-auth")) {
                opts.put(key, "");
            } else if (key.startsWith("--") && i + 1 < args.length) {
                opts.put(key, args[++i]);
            } else {
                fail("unknown or incomplete argument: " + key);
            }
        }
        return opts;
    }

    private static String require(Map<String, String> opts, String key) {
        String value = opts.get(key);
        if (value == null) {
            fail("missing required argument " + key);
        }
        return value;
    }

    private static void fail(String message) {
        PrintStream err = System.err;
        err.println("ERROR " + message);
        err.flush();
        System.exit(2);
    }
}
