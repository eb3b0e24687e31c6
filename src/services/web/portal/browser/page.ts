// The admin page: being written.
import { h, type PortalPage } from '../../../../portal-kit/index.js';

const page: PortalPage = {
  mount(root, ctx) {
    root.append(h('h1', {}, ctx.t('Admin', '管理')));
  },
};
export default page;
