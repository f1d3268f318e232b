// Field-named errors from 422/409 answers, shown next to the right form item.
// The server names the field (e.g. "id_number", "service.enlist_date",
// "categories[0].valid_from"); form items read err('that.name').
import { reactive, nextTick } from 'vue';

export function useFormErrors() {
  const errors = reactive({});
  function clear(field) {
    if (field) delete errors[field];
    else for (const k of Object.keys(errors)) delete errors[k];
  }
  function err(field) { return errors[field] || ''; }
  // Returns true when the error was placed next to a form item; else the caller shows it.
  function apply(e, known = []) {
    clear();
    if (!e || !e.field) return false;
    const f = String(e.field).replace(/\[(\d+)\]/g, '.$1');
    errors[f] = e.message;
    errors[e.field] = e.message;
    const placed = !known.length || known.includes(f) || known.includes(e.field);
    nextTick(() => {
      const el = document.querySelector('.el-form-item.is-error');
      el?.scrollIntoView({ behavior: 'smooth', block: 'center' });
    });
    return placed;
  }
  return { errors, err, clear, apply };
}
