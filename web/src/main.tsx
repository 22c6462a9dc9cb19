import { render } from 'preact';
import { App } from './components/App';
import { StoreContext } from './hooks';
import { Store } from './store';
import './styles.css';

const store = new Store();
store.start();

const root = document.getElementById('app');
if (root) {
  render(
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>,
    root,
  );
}
