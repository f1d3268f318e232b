// Entry of the vets web UI: Vue 3 + Element Plus (zh-CN) + vue-router.
import { createApp } from 'vue';
import ElementPlus from 'element-plus';
import zhCn from 'element-plus/es/locale/lang/zh-cn';
import 'element-plus/dist/index.css';
import App from './App.vue';
import router from './router.js';
import { installSessionHandler } from './auth.js';
import './styles.css';

const app = createApp(App);
app.use(ElementPlus, { locale: zhCn });
app.use(router);
installSessionHandler(router);
app.config.errorHandler = (err) => { console.error(err); };
app.mount('#app');
