import preact from '@preact/preset-vite';
import { defineConfig, loadEnv } from 'vite';

// The built app is served by the messenger server at `/`, so every asset path is relative
// (`base: './'`) and nothing is fetched from another host at run time.
// `npm run dev` proxies the API and the WebSocket to a running server
// (VITE_API_TARGET, default http://127.0.0.1:8000).
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, '.', 'VITE_');
  const target = env.VITE_API_TARGET || 'http://127.0.0.1:8000';
  const apiPaths = '^/(users|auth|chats|messages|attachments|files|subscriptions|healthz|readyz)';
  return {
    base: './',
    plugins: [preact()],
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
    },
    server: {
      proxy: {
        [apiPaths]: { target, changeOrigin: true, ws: true },
      },
    },
  };
});
