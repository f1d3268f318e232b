// Vite build of the vets web UI. The output (dist/) is served by `vets serve --web`;
// hashed files under /assets/ are cached for a year by the server.
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1500,
    // No inline scripts (CSP: default-src 'self'), so no module preload polyfill either.
    modulePreload: { polyfill: false },
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'element-plus', test: /node_modules[\\/](element-plus|@element-plus|@floating-ui|@ctrl|async-validator|dayjs|lodash|lodash-es|@vueuse|memoize-one|normalize-wheel-es)/ },
            { name: 'echarts', test: /node_modules[\\/](echarts|zrender|tslib)/ },
            { name: 'vue', test: /node_modules[\\/](vue|@vue|vue-router)[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    port: 5173,
    proxy: { '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false } },
  },
});
