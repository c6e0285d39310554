package io.kontrol.proxy.http;

import io.kontrol.proxy.ProxyError;
import io.kontrol.proxy.Services;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP server: Netty's HTTP/1.1 codec on one acceptor and two I/O threads
 * ({@code proxy-http-*}). A request body is read whole up to the configured limit (larger: 413,
 * unread). Routes answer futures; a connection that closes while its request waits (a long poll)
 * cancels that request, and a message whose response could not be written is offered again.
 * A connection idle for {@value #IDLE_SECONDS} s is closed.
 */
public final class HttpApi implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
  static final int IDLE_SECONDS = 60;

  private final Services services;
  private final Routes routes;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final Channel server;

  public HttpApi(Services services, InetSocketAddress address) throws InterruptedException {
    this.services = services;
    this.routes = new Routes(services);
    this.boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("proxy-http-accept", true), NioIoHandler.newFactory());
    this.workers = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory("proxy-http", true), NioIoHandler.newFactory());
    int maxBody = services.config().maxRequestBytes();
    try {
      this.server =
          new ServerBootstrap()
              .group(boss, workers)
              .channel(NioServerSocketChannel.class)
              .option(ChannelOption.SO_BACKLOG, 1024)
              .option(ChannelOption.SO_REUSEADDR, true)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      ch.pipeline()
                          .addLast(new ReadTimeoutHandler(IDLE_SECONDS, TimeUnit.SECONDS))
                          .addLast(new HttpServerCodec(4096, 16 * 1024, 64 * 1024))
                          .addLast(new HttpServerExpectContinueHandler())
                          .addLast(new HttpObjectAggregator(maxBody))
                          .addLast(new Handler());
                    }
                  })
              .bind(address)
              .sync()
              .channel();
    } catch (RuntimeException | InterruptedException e) {
      shutdownLoops();
      throw e;
    }
    log.info("http listening on {}", server.localAddress());
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) server.localAddress();
  }

  @Override
  public void close() {
    server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    shutdownLoops();
  }

  private void shutdownLoops() {
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(7, TimeUnit.SECONDS);
  }

  /** One per connection; requests on it are answered in order (no pipelining is served). */
  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private CompletableFuture<Response> inFlight;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      long start = System.nanoTime();
      boolean keepAlive = HttpUtil.isKeepAlive(req);
      DecoderResult dr = req.decoderResult();
      QueryStringDecoder uri = new QueryStringDecoder(req.uri());
      List<String> path = segments(uri.path());
      String endpoint = Routes.endpoint(req.method(), path);
      CompletableFuture<Response> answer;
      if (dr.isFailure()) {
        answer = CompletableFuture.completedFuture(
            Routes.error(ProxyError.badRequest("malformed request: " + dr.cause().getMessage())));
        keepAlive = false;
      } else {
        byte[] body = ByteBufUtil.getBytes(req.content());
        try {
          answer = routes.route(req.method(), path, new Query(uri.parameters()), req.headers(), body);
        } catch (ProxyError e) {
          answer = CompletableFuture.failedFuture(e);
        } catch (RuntimeException e) {
          answer = CompletableFuture.failedFuture(e);
        }
      }
      boolean ka = keepAlive;
      inFlight = answer;
      Channel ch = ctx.channel();
      answer.whenComplete((r, t) -> {
        Response res = r;
        if (t != null) {
          ProxyError e = ProxyError.from(t);
          if (e.kind() == ProxyError.Kind.BROKER && !(ProxyError.unwrap(t) instanceof ProxyError)) {
            log.warn("http {} /{} failed: {}", req.method(), String.join("/", path), e.getMessage());
          }
          services.metrics().error("http", endpoint, e.kind().name().toLowerCase(java.util.Locale.ROOT));
          res = Routes.error(e);
        }
        write(ch, res, ka, endpoint, start);
      });
    }

    private void write(Channel ch, Response res, boolean keepAlive, String endpoint, long start) {
      FullHttpResponse out = new DefaultFullHttpResponse(
          HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(res.status()), Unpooled.wrappedBuffer(res.body()));
      out.headers().set(HttpHeaderNames.CONTENT_TYPE, res.contentType());
      out.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.body().length);
      if (keepAlive) {
        out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      } else {
        out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      }
      if (!ch.isActive()) {
        out.release();
        if (res.delivery() != null) {
          res.delivery().failed();
        }
        return;
      }
      ch.writeAndFlush(out).addListener((ChannelFutureListener) f -> {
        services.metrics().request("http", endpoint, res.status(), System.nanoTime() - start);
        if (res.delivery() != null) {
          if (f.isSuccess()) {
            res.delivery().sent();
          } else {
            res.delivery().failed();
          }
        }
        if (!f.isSuccess() || !keepAlive) {
          f.channel().close();
        }
      });
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      CompletableFuture<Response> f = inFlight;
      if (f != null) {
        f.cancel(false); // a waiting consume request gives up its turn; a done one is unaffected
      }
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // a reset or timed-out connection: nothing to answer, nothing to log as an error
      log.debug("http connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
      ctx.close();
    }
  }

  private static List<String> segments(String path) {
    List<String> out = new ArrayList<>();
    for (String s : Arrays.asList(path.split("/"))) {
      if (!s.isEmpty()) {
        out.add(QueryStringDecoder.decodeComponent(s));
      }
    }
    return out;
  }
}
