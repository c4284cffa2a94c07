import java.lang.reflect.Field;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

// Solr in the foreground: JettySolrRunner (solr-test-framework, Solr's own embedded Jetty
// launcher) serving SOLR_HOME under /solr on every address, as `bin/solr start -f` does
// with the distribution's Jetty. JettySolrRunner binds its connector to 127.0.0.1, so the
// connector's host is set before the server starts (SOLR_JETTY_HOST, default 0.0.0.0).
public final class SolrStandin {
    public static void main(String[] args) throws Exception {
        String home = args[0];
        int port = Integer.parseInt(args[1]);
        String host = System.getenv().getOrDefault("SOLR_JETTY_HOST", "0.0.0.0");
        JettyConfig config = JettyConfig.builder().setPort(port).setContext("/solr").stopAtShutdown(true).build();
        JettySolrRunner runner = new JettySolrRunner(home, config);
        Field field = JettySolrRunner.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(runner);
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost(host);
            }
        }
        runner.start();
        System.out.println("Solr started on " + host + ":" + runner.getLocalPort());
        Thread.currentThread().join();
    }
}
